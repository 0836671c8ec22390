"""A user's pseudonym is HMAC-SHA256 of the token's text as it is. Ingest now folds full-width
characters of patient and reader ids before hashing (ingest.pseudonym.fold_id); users' and
legacy reviewers' pseudonyms must not fold, or a user named with an ideographic space (山田　太郎)
or a full-width subject would get a new pseudonym and lose their earlier reviews."""

from __future__ import annotations

import hashlib
import hmac

from dashboard.auth import legacy_pseudonym, user_pseudonym

KEY = b"0123456789abcdef0123456789abcdef"


def _old(text: str) -> str:
    return hmac.new(KEY, text.encode(), hashlib.sha256).hexdigest()[:24]


def test_user_and_legacy_pseudonyms_hash_the_text_as_it_is() -> None:
    issuer = "https://login.example.jp"
    assert user_pseudonym(KEY, issuer, "ＳＵＢ１２３") == _old(f"oidc|{issuer}|sub|ＳＵＢ１２３")
    assert user_pseudonym(KEY, issuer, email="Ｙａｍａｄａ@example.jp") == _old(
        f"oidc|{issuer}|email|ｙａｍａｄａ@example.jp"
    )
    assert legacy_pseudonym(KEY, "山田　太郎") == _old("legacy|山田　太郎")
    assert legacy_pseudonym(KEY, "山田　太郎") != legacy_pseudonym(KEY, "山田 太郎")
