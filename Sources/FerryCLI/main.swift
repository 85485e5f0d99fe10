print("ferry: not yet implemented")
