"""segql: dynamic marketing segments compiled to Elasticsearch queries."""

__version__ = "0.1.0"
