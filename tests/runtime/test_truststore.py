"""The system's roots, read as handshakes need them where the system keeps a hash folder."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest

from authorizer.errors import FetchError
from authorizer.keys.fetch import HttpFetcher, tls_context
from authorizer.keys.truststore import trust_folders
from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.devissuer.tls import hash_folder, make_tls

ROOT = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def _system(
    bundle: Path, *, links: Path | None, roots: int = 3, default: Path, capath: Path
) -> ssl.DefaultVerifyPaths:
    """A system layout: a bundle of ``roots``, hash links in ``links``, OpenSSL's defaults."""
    bundle.parent.mkdir(parents=True, exist_ok=True)
    bundle.write_bytes(ROOT * roots)
    if links is not None:
        links.mkdir(parents=True, exist_ok=True)
        for number in range(roots):
            (links / f"{number:08x}.0").symlink_to(bundle)
    default.parent.mkdir(parents=True, exist_ok=True)
    default.symlink_to(bundle)  # OpenSSL's default file is a link to the distribution's bundle
    capath.mkdir(parents=True, exist_ok=True)
    return ssl.DefaultVerifyPaths(
        str(default), str(capath), "SSL_CERT_FILE", str(default), "SSL_CERT_DIR", str(capath)
    )


def test_a_debian_layout_reads_the_bundles_own_folder_lazily(tmp_path: Path) -> None:
    certs = tmp_path / "etc/ssl/certs"
    paths = _system(
        certs / "ca-certificates.crt",
        links=certs,
        default=tmp_path / "usr/lib/ssl/cert.pem",
        capath=tmp_path / "usr/lib/ssl/certs",
    )
    assert trust_folders(paths, {}) == [str(certs), str(tmp_path / "usr/lib/ssl/certs")]


def test_a_fedora_layout_reads_the_hash_folder_beside_the_bundle(tmp_path: Path) -> None:
    """Amazon Linux 2023's: /etc/pki/tls/cert.pem -> extracted/pem/tls-ca-bundle.pem."""
    pem = tmp_path / "etc/pki/ca-trust/extracted/pem"
    paths = _system(
        pem / "tls-ca-bundle.pem",
        links=pem / "directory-hash",
        default=tmp_path / "etc/pki/tls/cert.pem",
        capath=tmp_path / "etc/pki/tls/certs",
    )
    expected = [str(pem / "directory-hash"), str(tmp_path / "etc/pki/tls/certs")]
    assert trust_folders(paths, {}) == expected


def test_ssl_cert_file_set_means_that_file_read_whole(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    paths = _system(certs / "bundle.pem", links=certs, default=tmp_path / "cert.pem", capath=certs)
    assert trust_folders(paths, {"SSL_CERT_FILE": str(tmp_path / "mine.pem")}) is None


@pytest.mark.parametrize(
    ("links", "roots"),
    [(None, 3), ("short", 3), ("dangling", 3), ("certs", 0)],
    ids=["no hash folder", "fewer links than roots", "a dangling link", "an empty bundle"],
)
def test_without_a_complete_hash_folder_the_bundle_is_read_whole(
    tmp_path: Path, links: str | None, roots: int
) -> None:
    certs = tmp_path / "certs"
    paths = _system(
        certs / "bundle.pem",
        links=None if links is None else certs,
        roots=roots,
        default=tmp_path / "cert.pem",
        capath=tmp_path / "capath",
    )
    if links == "short":
        next(certs.glob("*.0")).unlink()  # a folder missing a root would trust fewer
    if links == "dangling":
        (certs / "00000000.0").unlink()
        (certs / "00000000.0").symlink_to(certs / "gone.pem")  # its root's handshakes would fail
    assert trust_folders(paths, {}) is None


def test_a_missing_bundle_means_openssls_default(tmp_path: Path) -> None:
    absent = str(tmp_path / "absent.pem")
    paths = ssl.DefaultVerifyPaths(
        absent, str(tmp_path), "SSL_CERT_FILE", absent, "SSL_CERT_DIR", str(tmp_path)
    )
    assert trust_folders(paths, {}) is None


def test_ssl_cert_dir_folders_are_read_after_the_bundles_folder(tmp_path: Path) -> None:
    certs, one, two = tmp_path / "certs", tmp_path / "one", tmp_path / "two"
    paths = _system(certs / "bundle.pem", links=certs, default=tmp_path / "cert.pem", capath=certs)
    one.mkdir()
    two.mkdir()
    gone = tmp_path / "gone"
    environ = {"SSL_CERT_DIR": os.pathsep.join([str(one), str(gone), str(two), str(certs)])}
    assert trust_folders(paths, environ) == [str(certs), str(one), str(two)]


def test_this_machine_verifies_https_reading_only_the_root_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real system store, plus a test CA in SSL_CERT_DIR, as a runtime would see them."""
    context, ca_file = make_tls(tmp_path)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("SSL_CERT_DIR", str(hash_folder(ca_file)))
    assert trust_folders(ssl.get_default_verify_paths(), os.environ), "no system hash folder"
    tls_context.cache_clear()
    try:
        assert tls_context(None).cert_store_stats()["x509_ca"] == 0  # nothing read yet
        with DevIssuer(tls=context) as secure:
            assert HttpFetcher(timeout=2).get_json(secure.jwks_uri)["keys"]
        assert tls_context(None).cert_store_stats()["x509_ca"] == 1  # the test CA alone
    finally:
        tls_context.cache_clear()


def test_a_root_in_no_folder_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context, _ = make_tls(tmp_path)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    tls_context.cache_clear()
    try:
        with DevIssuer(tls=context) as secure, pytest.raises(FetchError, match="CERTIFICATE"):
            HttpFetcher(timeout=2).get_json(secure.jwks_uri)
    finally:
        tls_context.cache_clear()
