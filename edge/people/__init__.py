"""Who may come in and who is watched for: residents and their faces and PINs, vehicles,
visitors and their passes, and the watchlist's faces."""
