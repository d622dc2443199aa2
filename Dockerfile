# Two stages: wheels are built where a compiler is (pytricia ships no wheel), the runtime image gets only
# the wheels — no compiler, no headers.
FROM python:3.11-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY streams ./streams
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels truesli && rm -rf /wheels \
 && mkdir -p /var/lib/truesli
COPY examples ./examples
EXPOSE 6066
CMD ["truesli", "--help"]
