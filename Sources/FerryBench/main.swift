print("ferry-bench: not yet implemented")
