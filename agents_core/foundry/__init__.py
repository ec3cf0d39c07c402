"""The upstream: Azure AI Foundry's agent service, both generations.

`transport` sends requests (retries, error translation, the run event
stream); `threads` runs classic agents (`asst_...`) through threads and
runs; `responses` runs versioned agents (`name:version`) through the
Responses API. Nothing here knows OpenAI's or A2A's wire formats.
"""
