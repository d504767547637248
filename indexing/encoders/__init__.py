"""Encoders: text (sentence-transformers, ONNX), CLIP image space, MLLM embedder and the `mm` space; `backends` registers them."""
