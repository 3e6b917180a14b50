"""llm-quota-exporter: Prometheus exporter for LLM subscription quotas."""

__version__ = "0.2.0"
