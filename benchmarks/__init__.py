"""Benchmarks: scrape time, CPU, memory and upstream calls of the exporter as a process.

    python -m benchmarks.scrape_bench --help
"""
