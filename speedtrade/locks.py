"""Every PostgreSQL advisory lock SpeedTrade takes, named in one enum (as saleor's core/db/locks.py).

A key is `(AdvisoryLock, instance)`: PostgreSQL's two-integer form, the enum value first and a
stable 32-bit hash of the instance name second (the feed's provider, say), so two kinds of lock
can never collide and one kind can be taken per instance.
"""

import enum
import zlib


class AdvisoryLock(enum.IntEnum):
    # Singletons (speedtrade/singleton.py): held on a dedicated session for the process's lifetime.
    CELERY_BEAT = 2101
    MARKET_DATA_FEED = 2102
    BROKER_STREAMS = 2103
    ORDER_ENGINE = 2104  # trading/engine.py, `run_engine` (or a FEED_COMPANION): one per deployment

    def key(self, instance: str = "") -> tuple[int, int]:
        """The (classid, objid) pair for pg_advisory_lock(int, int)."""
        objid = zlib.crc32(instance.encode()) & 0xFFFFFFFF
        return int(self), objid - 2**32 if objid >= 2**31 else objid
