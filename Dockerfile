FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY examples ./examples
RUN pip install --no-cache-dir . && mkdir -p /var/lib/truesli
EXPOSE 6066
CMD ["truesli", "--help"]
