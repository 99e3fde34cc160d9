"""lossviz: the softmax family of face-recognition losses, as a library the app draws from."""
