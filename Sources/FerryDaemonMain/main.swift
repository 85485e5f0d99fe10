print("ferryd: not yet implemented")
