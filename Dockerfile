# mmrag: one image for the API (`mmrag serve`) and the UI (`mmrag ui`).
# Build: docker build -t mmrag .            (CPU torch)
#        docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu124 -t mmrag:gpu .
FROM python:3.11-slim

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MMRAG_HOME=/data \
    HF_HOME=/models

# libgl1/libglib2.0-0: OpenCV (OCR); curl: health checks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 curl \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Dependencies first, so code changes do not reinstall torch.
COPY pyproject.toml README.md ./
RUN pip install --index-url "$TORCH_INDEX_URL" torch==2.14.1 torchvision==0.29.1 \
 && mkdir -p core indexing retrieval rerank generation evaluation app ui \
 && pip install . && pip uninstall -y mmrag
COPY core core
COPY indexing indexing
COPY retrieval retrieval
COPY rerank rerank
COPY generation generation
COPY evaluation evaluation
COPY app app
COPY ui ui
RUN pip install --no-deps .

RUN useradd --create-home --uid 1000 mmrag && mkdir -p /data /models && chown mmrag /data /models
USER mmrag
VOLUME ["/data", "/models"]
EXPOSE 8000 8501
CMD ["mmrag", "serve", "--host", "0.0.0.0", "--port", "8000"]
