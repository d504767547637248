"""Extractors: one per file type (text, Markdown, HTML, PDF, DOCX, images, audio, video, recordings), with the OCR and ASR engines they use and text segmentation; `backends` registers them."""
