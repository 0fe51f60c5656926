"""Presentation-attack detection (liveness) for the face path: is the face at the door a
live person, or a photo, a print or a screen held up to the camera?"""
