"""One hub and its gate boxes: lists down, events up, counted passes spent at the hub."""
