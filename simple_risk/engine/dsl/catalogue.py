"""The futures roots simple-risk knows, so lint can warn about a symbol that is probably a typo.

CME Group roots traded on TopstepX (equity index, energy, metals, rates, currencies, crypto,
agriculture), minis and micros. A ruleset's own ``symbols.weights`` keys and alias names and
targets count as known too, so a new contract needs no code change: list its weight.
"""

from __future__ import annotations

KNOWN_ROOTS: frozenset[str] = frozenset(
    {
        # equity index: minis, micros, others
        "ES", "NQ", "RTY", "YM", "EMD", "NKD", "MES", "MNQ", "M2K", "MYM",
        # energy
        "CL", "QM", "NG", "QG", "RB", "HO", "MCL", "MNG",
        # metals
        "GC", "SI", "HG", "PL", "PA", "MGC", "SIL", "MHG",
        # rates
        "ZB", "UB", "ZN", "ZF", "ZT", "TN",
        # currencies
        "6A", "6B", "6C", "6E", "6J", "6S", "6N", "6M", "E7", "M6A", "M6B", "M6E",
        # crypto
        "BTC", "ETH", "MBT", "MET",
        # agriculture and livestock
        "ZC", "ZW", "ZS", "ZM", "ZL", "HE", "LE",
    }
)  # fmt: skip
