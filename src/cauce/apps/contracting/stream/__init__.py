"""The real-time half: contract records on stream ``contracts``, eight alerts per record.

`records` draws the original producer's records, `reference` keeps the latest raw partitions in
memory as lookup sets, `alerts` computes the eight indicators for a batch at once, and `store`
upserts them into the warehouse with the stream checkpoint and publishes the ``Si`` ones.
"""
