"""Pseudonymisation: ``person_key`` = HMAC-SHA256(key, ID number), hex.

The key comes from :meth:`jobs.config.Config.hmac_key` (environment or key file),
never from the repository. The function runs as a vectorised pandas UDF so the
key travels to executors inside the closure and never appears in a query plan.
"""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F


def person_key_value(key: bytes, id_no: str) -> str:
    return hmac.new(key, id_no.encode("utf-8"), hashlib.sha256).hexdigest()


def person_key(id_no: Column, key: bytes) -> Column:
    if not key:
        raise ValueError("an empty pseudonymisation key is no key")

    @F.pandas_udf("string")
    def keyed(ids: pd.Series) -> pd.Series:
        # One keyed state, copied per value: the key's pads are not hashed again each time.
        keyed_state = hmac.new(key, digestmod=hashlib.sha256)

        def one(value: str | None) -> str | None:
            if value is None:
                return None
            mac = keyed_state.copy()
            mac.update(value.encode("utf-8"))
            return mac.hexdigest()

        return pd.Series([one(v) for v in ids.tolist()], index=ids.index, dtype=object)

    return keyed(id_no)
