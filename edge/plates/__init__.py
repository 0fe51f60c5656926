"""Chinese licence-plate reading: detect, rectify, recognise, apply grammar, vote."""
