"""Face recognition for pedestrian gates: YuNet detection, SFace embedding, 1:N search."""
