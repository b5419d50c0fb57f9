"""``fintrust keys``: the merchant's RSA key pair."""

from __future__ import annotations

from pathlib import Path

import click

from fintrust.trustly import write_key_pair

__all__ = ["keys"]

# --------------------------------------------------------------------------------------- keys


@click.group(short_help="Create the merchant RSA key pair.")
def keys() -> None:
    """Create the merchant RSA key pair that signs your requests to Trustly."""


@keys.command("generate")
@click.option(
    "--private-key",
    "private_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("merchant_private.pem"),
    show_default=True,
    help="Where to write the private key (PKCS#8 PEM, file mode 0600).",
)
@click.option(
    "--public-key",
    "public_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("merchant_public.pem"),
    show_default=True,
    help="Where to write the public key (PEM) that you send to Trustly.",
)
@click.option(
    "--bits",
    type=click.IntRange(2048, 8192),
    default=2048,
    show_default=True,
    help="RSA key size. Trustly's documentation uses 2048.",
)
@click.option("--force", is_flag=True, help="Replace existing key files (the old keys are lost).")
def keys_generate(private_path: Path, public_path: Path, bits: int, force: bool) -> None:
    """Write a new RSA key pair and print the public key (PEM) on stdout.

    The private key is never printed. Send the public key to Trustly; keep the private key
    secret. Use a separate key pair for the test and the live environment.
    """
    if private_path.absolute() == public_path.absolute():
        raise click.BadParameter(
            "the private and the public key need two different files", param_hint="--public-key"
        )
    existing = [path for path in (private_path, public_path) if path.exists() or path.is_symlink()]
    if existing and not force:
        names = " and ".join(str(path) for path in existing)
        verb = "exists" if len(existing) == 1 else "exist"
        raise click.ClickException(
            f"{names} already {verb}; refusing to overwrite a key. Choose other paths with "
            "--private-key/--public-key, or pass --force to replace them (the old private key "
            "is lost, and Trustly must be sent the new public key)."
        )
    try:
        for path in existing:
            path.unlink()
        public_pem = write_key_pair(private_path, public_path, bits)
    except OSError as exc:
        raise click.ClickException(
            f"cannot write the key pair: {exc.strerror or exc} ({exc.filename or private_path}). "
            "Check that the directory exists and is writable."
        ) from None
    click.echo(public_pem.decode("ascii"), nl=False)
    say = _stderr
    say(f"Wrote the private key to {private_path} (mode 0600) and the public key to {public_path}.")
    say("Next steps:")
    say(f"  1. Send this public key ({public_path}) to Trustly's integration team.")
    say(f"  2. Keep the private key ({private_path}) secret: never commit, e-mail or share it.")
    say("  3. Generate a new, separate key pair for the live environment.")


def _stderr(text: str) -> None:
    click.echo(text, err=True)
