"""Media: decoding audio/video, keyframes, clip windows, picture helpers and the media store."""
