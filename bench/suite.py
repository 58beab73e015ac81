"""The fixed segment suite of the benchmark: realistic segments over the sample's fields,
events and visits (`segql.sample`), one per construct or mix of constructs.

Each entry: (name, segql expression, equivalent Lucene query string or None when the
construct has no Lucene form — event/visit counts, windows over nested activity,
`in_segment`), and for the constructs where the query's design matters, a "naive" body
(what a hand-written query would do: leading wildcards, `case_insensitive` terms).
"""

from __future__ import annotations

from typing import Any

ACCOUNT = "bench"
#: The evaluation time: the end of the sample's activity, so relative windows select.
NOW = "2026-11-01T00:00:00Z"
SAVED = ("Warsaw buyers", 'all(city starts_with "War", event Purchase occurred)')

SEGMENTS: list[tuple[str, str, str | None]] = [
    ("text_starts_with", 'city starts_with "War"', "city:War*"),
    ("text_ends_with", 'email ends_with "@gmail.com"', "email:*@gmail.com"),
    ("text_contains", 'city contains "szaw"', "city:*szaw*"),
    ("text_equals_folded", 'city equals "KRAKÓW"', 'city:"KRAKÓW"'),
    ("text_in", 'plan in ["basic", "pro"]', "plan:(basic OR pro)"),
    ("list_in", 'tags in ["vip", "loyalty"]', "tags:(vip OR loyalty)"),
    ("number_between", "age between 25 and 40", "age:[25 TO 40]"),
    ("number_gt", "ltv > 1000", "ltv:>1000"),
    ("boolean", "vip is_true", "vip:true"),
    ("date_after", 'signup_date after "2025-06-01"', "signup_date:>2025-06-01"),
    ("date_relative", "created_at within 180d", "created_at:[now-180d TO now]"),
    ("has_no_value", "age has_no_value", "NOT _exists_:age"),
    ("negations",
     'all(plan = "free", not vip is_true, not city in ["Warszawa", "Kraków"])',
     "plan:free AND NOT vip:true AND NOT city:(Warszawa OR Kraków)"),
    ("nested_groups",
     'any(all(city starts_with "War", age < 30), all(plan = "pro", ltv >= 2000), '
     'all(tags in ["b2b"], not email ends_with "@gmail.com"))',
     "(city:War* AND age:<30) OR (plan:pro AND ltv:>=2000) OR "
     "(tags:b2b AND NOT email:*@gmail.com)"),
    ("event_window", "event MailOpen occurred within 30d", None),
    ("event_where_text",
     'event MailClick where (campaign contains "sale") occurred since "2025-06-01"', None),
    ("event_count_where",
     'event Purchase where (value > 200 and currency = "PLN") occurred at_least 2 times '
     "within 365d", None),
    ("event_category",
     'event Purchase where (category in ["Elektronika", "Sport"]) occurred', None),
    ("event_not_occurred",
     "all(event CartAbandoned occurred within 90d, event Purchase not_occurred within 30d)",
     None),
    ("channels_any",
     "any(event SmsClick occurred within 90d, event PushClick occurred at_least 3 times)",
     None),
    ("event_at_most", "event MailOpen occurred at_most 2 times within 90d", None),
    ("visit_path_count",
     'visit where (path starts_with "/cart") occurred at_least 2 times within 180d', None),
    ("visit_title_contains", 'visit where (title contains "słuchawki") occurred', None),
    ("visit_url_campaign",
     'visit where (url contains "utm_campaign=black" and path ends_with "/cart") occurred',
     None),
    ("in_segment", 'all(in_segment "Warsaw buyers", not vip is_true)', None),
    ("mixed_realistic",
     'all(any(city starts_with "War", city = "Kraków"), age between 25 and 45, '
     'not event MailClick occurred within 60d, visit where (path starts_with "/p/") '
     "occurred within 30d)", None),
]

#: Candidates for the export figure; the one nearest half the contacts is used.
EXPORT_CANDIDATES = [
    'plan = "free"',
    "age > 35",
    "event MailOpen occurred within 180d",
    'any(vip is_true, plan = "free")',
    "ltv > 0",
]


def naive_bodies(account: str) -> dict[str, dict[str, Any]]:
    """Hand-written formulations of the constructs whose design matters, on the same
    index. Scripts (e.g. a painless `endsWith`) can't run on the pinned distribution
    (`integ-test-zip`: no painless), so the naive forms are wildcard/term ones."""

    def scoped(query: dict[str, Any]) -> dict[str, Any]:
        return {"query": {"bool": {"filter": [{"term": {"account": account}}, query]}}}

    return {
        "text_ends_with": scoped(
            {"wildcard": {"fields.email.f": {"value": "*@gmail.com"}}}),
        "text_contains": scoped({"wildcard": {"fields.city.f": {"value": "*szaw*"}}}),
        "text_equals_folded": scoped(
            {"term": {"fields.city.f": {"value": "KRAKÓW", "case_insensitive": True}}}),
        "visit_title_contains": scoped({"nested": {"path": "visits", "query": {
            "wildcard": {"visits.pf": {"value": "title\u0000*słuchawki*"}}}}}),
    }
