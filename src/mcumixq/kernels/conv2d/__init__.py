"""Dense conv2d / linear kernel families for the M4 (the `smlad2` baseline)."""

__all__: list[str] = []
