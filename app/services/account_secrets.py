"""The secrets an online-store message carries: an initial password, a reset code.

Made by the delivery job at send time, never earlier, and stored only as argon2 hashes:
the plain text exists in the job's memory and in the message, never in the database, the
outbox, a job argument or a log (issue 10 §3). Each send makes a new one, so a retried
message never repeats a secret an earlier, possibly half-delivered, attempt carried.
"""

from __future__ import annotations

import secrets

# No 0/O, 1/l/I: read off a phone screen and typed in. All of GSM-7, so an SMS holding it
# stays at 160 characters a segment. 56 symbols ** 10 = 58 bits.
READABLE_SYMBOLS = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
INITIAL_PASSWORD_LENGTH = 10
# Eight digits (10**8): typed from an SMS. A code dies after RESET_CODE_TTL_MINUTES, after
# its first use, and after RESET_CODE_MAX_FAILURES wrong guesses, from any address.
RESET_CODE_LENGTH = 8
RESET_CODE_TTL_MINUTES = 15
RESET_CODE_MAX_FAILURES = 5


def initial_password() -> str:
    return "".join(secrets.choice(READABLE_SYMBOLS) for _ in range(INITIAL_PASSWORD_LENGTH))


def reset_code() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(RESET_CODE_LENGTH))
