"""Who may come in and who is watched for: the address model (``addresses``), residents and
their faces and PINs (``residents``, ``resident_faces``), vehicles (``vehicles``), visitors
and their passes (``visitors``, ``passes``), and the watchlist's faces."""
