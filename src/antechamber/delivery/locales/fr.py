"""French (fr)."""

from __future__ import annotations


def plural(n: int) -> int:
    # French uses the singular for 0 and 1.
    return 0 if n <= 1 else 1


MESSAGES: dict[str, str | tuple[str, ...]] = {
    # discovery_magic_link
    "Sign in to %(product)s": "Connexion à %(product)s",
    "Hello,": "Bonjour,",
    "Use this link to sign in to %(product)s:": (
        "Utilisez ce lien pour vous connecter à %(product)s :"
    ),
    "The link works once and expires in %(num)d minute.": (
        "Le lien ne fonctionne qu’une fois et expire dans %(num)d minute.",
        "Le lien ne fonctionne qu’une fois et expire dans %(num)d minutes.",
    ),
    "If you did not ask to sign in, you can ignore this email: nobody can sign in without "
    "the link.": (
        "Si vous n’avez pas demandé à vous connecter, ignorez cet e-mail : personne ne peut se "
        "connecter sans le lien."
    ),
    "Use this button to sign in. It works once.": (
        "Utilisez ce bouton pour vous connecter. Il ne fonctionne qu’une fois."
    ),
    "Sign in": "Se connecter",
    "Or paste this link into your browser:": "Ou collez ce lien dans votre navigateur :",
    "The link expires in %(num)d minute.": (
        "Le lien expire dans %(num)d minute.",
        "Le lien expire dans %(num)d minutes.",
    ),
    # sms_otp
    "%(code)s is your %(product)s verification code.": (
        "%(code)s est votre code de vérification %(product)s."
    ),
    "It expires in %(num)d minute.": (
        "Il expire dans %(num)d minute.",
        "Il expire dans %(num)d minutes.",
    ),
    "Do not share it.": "Ne le communiquez à personne.",
}
