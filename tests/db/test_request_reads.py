"""One read session per request (issue 12): every read of a request shares it; a read
through another Database takes a short session of its own rather than the shared one."""

from __future__ import annotations

from app.db.engine import Database, hold_reads, release_reads


async def test_reads_share_one_session_and_another_database_gets_its_own(db: Database) -> None:
    other = Database(db.url)
    token = hold_reads()
    try:
        async with db.read() as first:
            pass
        async with db.read() as second:
            assert second is first
        async with other.read() as foreign:
            assert foreign is not first
            assert foreign.bind is other.engine
        async with db.read() as third:
            assert third is first
    finally:
        await release_reads(token)
        await other.dispose()
