"""llm-quota-exporter: Prometheus exporter for LLM subscription quotas."""

__version__ = "0.1.0"
