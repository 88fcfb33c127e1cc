"""Human bodies and motion for human-removal pairs."""
