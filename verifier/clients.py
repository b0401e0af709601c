"""HTTP client for ``vaxcert trust refresh``: fetches published JWKS and CRLs over https only."""

from __future__ import annotations

from pathlib import Path

import requests

MAX_BYTES = 1024 * 1024


class FetchError(Exception):
    """A download failed; the message names the URL and why (never any response body)."""


class TrustFetcher:
    """Fetches small public documents (JWKS, CRLs) over https, pinned to ``ca`` when given.

    ``trust_env`` is off: CA bundle variables of the environment would silently override the
    pinned CA (platform.md). Redirects are not followed: a trusted URL is fetched or nothing is.
    A body that came with an ETag is revalidated next time (``If-None-Match``): a CRL that has
    not changed costs a 304 (the signer serves its CRLs ``no-cache`` with an ETag).
    """

    def __init__(self, ca: Path | None = None, timeout: float = 10.0) -> None:
        self.session = requests.Session()
        self.session.trust_env = False
        self.verify: str | bool = str(ca) if ca is not None else True
        self.timeout = timeout
        self.fetched: list[str] = []
        self._validated: dict[str, tuple[str, bytes]] = {}  # url -> (ETag, body)

    def get(self, url: str) -> bytes:
        """The body of ``url`` (https only, at most 1 MiB, status 200)."""
        if not url.startswith("https://"):
            raise FetchError(f"{url}: only https URLs are fetched")
        self.fetched.append(url)
        headers = {"Accept": "application/json, application/pkix-crl, */*"}
        known = self._validated.get(url)
        if known is not None:
            headers["If-None-Match"] = known[0]
        try:
            with self.session.get(
                url,
                verify=self.verify,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
                headers=headers,
            ) as response:
                if response.status_code == 304 and known is not None:
                    return known[1]
                if response.status_code != 200:
                    raise FetchError(f"{url}: HTTP {response.status_code}")
                body = b""
                for chunk in response.iter_content(64 * 1024):
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise FetchError(f"{url}: larger than {MAX_BYTES} bytes")
                etag = response.headers.get("ETag")
                if etag:
                    self._validated[url] = (etag, body)
                else:
                    self._validated.pop(url, None)
                return body
        except requests.RequestException as exc:
            raise FetchError(f"{url}: {type(exc).__name__}") from None

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()
