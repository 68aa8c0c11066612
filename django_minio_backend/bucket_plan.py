"""Which buckets each alias manages, and the state the settings want for each (`initialize_buckets`, the checks).

Which alias manages which bucket:

- a media alias (`MinioBackend`) manages its private buckets, public buckets and default bucket;
- a static alias (`MinioBackendStatic`) manages only its static files bucket, which is always public.

A media alias's MINIO_STATIC_FILES_BUCKET is left to the static alias, so a project that serves static
files some other way never gets an unused public bucket. Buckets are identified by (endpoint, name):
aliases sharing a server share its buckets, and each bucket is created and given its policy once.

Public means public under an alias's key prefix (MINIO_KEY_PREFIX; "" is the whole bucket): the policy grants
anonymous read of `bucket/PREFIX*` for each alias calling the bucket public, unless the prefix overlaps (holds,
or lies inside) the prefix of an alias calling it private. A conflict never exposes private files: such a
prefix stays private (and `manage.py check` warns, W002). So media under `media/` stays private while static
files under `static/` of the same bucket are public. Planning reads only the settings: no request is made.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .alias_settings import get_settings
from .aliases import is_static_alias, minio_aliases
from .keys import outermost, overlap
from .policies import public_read_policy
from .settings import MinioSettings


def managed_buckets(alias: str, settings: MinioSettings) -> tuple[str, ...]:
    """The buckets `initialize_buckets` creates for this alias (see the module docstring)."""
    if is_static_alias(alias):
        return (settings.static_files_bucket,)
    return settings.all_buckets


@dataclass
class BucketTarget:
    """One bucket on one server and the state the settings ask for."""

    bucket: str
    settings: MinioSettings  # of the first alias naming the bucket: its client is used
    aliases: list[str] = field(default_factory=list)  # aliases managing it or hooking a policy on it
    managed: bool = False  # some alias manages it: created when missing (a hook alone never creates one)
    public_votes: dict[str, bool] = field(default_factory=dict)  # managing alias -> does it call it public
    prefixes: dict[str, str] = field(default_factory=dict)  # managing alias -> its key prefix ("": whole bucket)
    listing: bool = False
    hooks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (alias, policy)
    staging_prefixes: list[str] = field(default_factory=list)  # MINIO_DIRECT_UPLOAD_PREFIX of managing aliases
    cors_origins: list[str] = field(default_factory=list)  # MINIO_CORS_ALLOWED_ORIGINS of managing aliases

    @property
    def conflicts(self) -> list[tuple[str, str]]:
        """(public alias, private alias) pairs whose key prefixes overlap: those public prefixes stay private."""
        votes, prefixes = self.public_votes, self.prefixes
        return [
            (public, private)
            for public in votes
            if votes[public]
            for private in votes
            if not votes[private] and overlap(prefixes[public], prefixes[private])
        ]

    @property
    def public_prefixes(self) -> list[str]:
        """The key prefixes anyone may read: the public aliases' prefixes that overlap no private alias's prefix
        (a conflict never exposes private files), each once."""
        withheld = {public for public, _ in self.conflicts}
        return outermost(
            self.prefixes[alias] for alias, public in self.public_votes.items() if public and alias not in withheld
        )

    @property
    def public(self) -> bool:
        return bool(self.public_prefixes)

    @property
    def wanted_policy(self) -> dict[str, Any] | None:
        """A hook's policy replaces ours; None means "no public policy of ours"."""
        if self.hooks:
            return self.hooks[-1][1]
        prefixes = self.public_prefixes
        if prefixes:
            return public_read_policy(self.bucket, listing=self.listing, prefixes=prefixes)
        return None


def plan(aliases: Iterable[str] | None = None) -> list[BucketTarget]:
    """Every bucket of every MinIO alias once; `aliases` keeps only the buckets those aliases touch."""
    targets = targets_for({alias: get_settings(alias) for alias in minio_aliases()})
    wanted = None if aliases is None else set(aliases)
    return [item for item in targets if wanted is None or wanted & set(item.aliases)]


def targets_for(configured: Mapping[str, MinioSettings]) -> list[BucketTarget]:
    """The buckets of these aliases keyed by (endpoint, bucket), in settings order."""
    targets: dict[tuple[str, str], BucketTarget] = {}

    def target(settings: MinioSettings, bucket: str, alias: str) -> BucketTarget:
        key = (settings.endpoint.lower(), bucket)
        found = targets.get(key)
        if found is None:
            found = targets[key] = BucketTarget(bucket=bucket, settings=settings)
        if alias not in found.aliases:
            found.aliases.append(alias)
        return found

    for alias, settings in configured.items():
        for bucket in managed_buckets(alias, settings):
            found = target(settings, bucket, alias)
            found.managed = True
            public = settings.is_public(bucket)
            found.public_votes[alias] = public
            found.prefixes[alias] = settings.key_prefix
            found.listing = found.listing or (public and settings.bucket_listing)
            prefix = settings.staging_key_prefix
            if prefix is not None and prefix not in found.staging_prefixes:
                found.staging_prefixes.append(prefix)
            found.cors_origins += [o for o in settings.cors_allowed_origins if o not in found.cors_origins]
        for bucket, policy in settings.policy_hooks:
            target(settings, bucket, alias).hooks.append((alias, policy))
    return list(targets.values())
