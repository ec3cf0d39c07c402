"""Front doors in OpenAI's formats: chat completions, models and files.

Pure translation between OpenAI's request and response shapes and the
protocol-neutral run core.
"""
