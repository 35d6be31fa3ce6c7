"""SpeedTrade benchmarks (issue 10): `make bench` / `python -m bench`. See bench/README.md."""
