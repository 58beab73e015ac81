/*
 * segql's security analysis plugin: the three analysis components the `.security` system
 * index of Elasticsearch 9.2.0 names in its "email" analyzer, which the integ-test-zip
 * distribution (no analysis-common module) lacks. Without them API keys cannot be stored.
 *
 *   uax_url_email   tokenizer      Lucene's UAX29URLEmailTokenizer (max_token_length)
 *   pattern_capture token filter   Lucene's PatternCaptureGroupTokenFilter
 *                                  (patterns, preserve_original)
 *   unique          token filter   drops a term already seen in the stream, or at the same
 *                                  position only (only_on_same_position)
 *
 * Written for segql (docs/security.md); built by segql.localnode.plugin against the
 * distribution's lib/ and installed with bin/elasticsearch-plugin.
 */
package org.segql.analysis;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.TokenFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.email.UAX29URLEmailTokenizer;
import org.apache.lucene.analysis.pattern.PatternCaptureGroupTokenFilter;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.analysis.tokenattributes.PositionIncrementAttribute;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.index.analysis.AbstractTokenFilterFactory;
import org.elasticsearch.index.analysis.AbstractTokenizerFactory;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

public final class SecurityAnalysisPlugin extends Plugin implements AnalysisPlugin {

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        return Map.of("uax_url_email", (indexSettings, environment, name, settings) -> {
            int maxLength = settings.getAsInt("max_token_length", 255);
            return new AbstractTokenizerFactory(name) {
                @Override
                public Tokenizer create() {
                    UAX29URLEmailTokenizer tokenizer = new UAX29URLEmailTokenizer();
                    tokenizer.setMaxTokenLength(maxLength);
                    return tokenizer;
                }
            };
        });
    }

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of(
            "pattern_capture", AnalysisPlugin.requiresAnalysisSettings(
                (indexSettings, environment, name, settings) -> captureFactory(name, settings)),
            "unique", (indexSettings, environment, name, settings) -> {
                boolean samePosition = settings.getAsBoolean("only_on_same_position", false);
                return new AbstractTokenFilterFactory(name) {
                    @Override
                    public TokenStream create(TokenStream input) {
                        return new UniqueTerms(input, samePosition);
                    }
                };
            });
    }

    private static TokenFilterFactory captureFactory(String name, Settings settings) {
        List<String> sources = settings.getAsList("patterns");
        if (sources.isEmpty()) {
            throw new IllegalArgumentException(
                "pattern_capture filter [" + name + "] needs at least one pattern in [patterns]");
        }
        Pattern[] patterns = sources.stream().map(Pattern::compile).toArray(Pattern[]::new);
        boolean preserveOriginal = settings.getAsBoolean("preserve_original", true);
        return new AbstractTokenFilterFactory(name) {
            @Override
            public TokenStream create(TokenStream input) {
                return new PatternCaptureGroupTokenFilter(input, preserveOriginal, patterns);
            }
        };
    }

    /** Passes each distinct term once: per stream, or per position when samePosition. */
    static final class UniqueTerms extends TokenFilter {
        private final CharTermAttribute term = addAttribute(CharTermAttribute.class);
        private final PositionIncrementAttribute increment =
            addAttribute(PositionIncrementAttribute.class);
        private final CharArraySet seen = new CharArraySet(8, false);
        private final boolean samePosition;

        UniqueTerms(TokenStream input, boolean samePosition) {
            super(input);
            this.samePosition = samePosition;
        }

        @Override
        public boolean incrementToken() throws IOException {
            while (input.incrementToken()) {
                if (samePosition && increment.getPositionIncrement() > 0) {
                    seen.clear();
                }
                if (!seen.contains(term.buffer(), 0, term.length())) {
                    seen.add(Arrays.copyOf(term.buffer(), term.length()));
                    return true;
                }
            }
            return false;
        }

        @Override
        public void reset() throws IOException {
            super.reset();
            seen.clear();
        }
    }
}
