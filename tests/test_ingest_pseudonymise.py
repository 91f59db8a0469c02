from pyspark.sql import functions as F

from jobs.pseudonymise import person_key


def test_person_key_is_rfc4231_hmac_sha256(spark):
    # RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?"
    df = spark.createDataFrame([("what do ya want for nothing?",), (None,)], "id_no string")
    keys = [r.k for r in df.select(person_key(F.col("id_no"), b"Jefe").alias("k")).collect()]
    assert keys == ["5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", None]


def test_another_key_gives_other_keys(spark):
    df = spark.createDataFrame([("11010519491231002X",)], "id_no string")
    a = df.select(person_key(F.col("id_no"), b"k1").alias("k")).first().k
    b = df.select(person_key(F.col("id_no"), b"k2").alias("k")).first().k
    assert a != b and len(a) == 64 and "11010519491231002X" not in a
