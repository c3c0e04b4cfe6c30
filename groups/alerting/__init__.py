"""Alert rules on consumer groups: the collector calls `evaluate_round` after each round.

from groups.alerting import GroupFacts, PartitionFact, evaluate_round
"""

from groups.alerting.facts import GroupFacts, PartitionFact
from groups.alerting.rounds import RoundReport, evaluate_round

__all__ = ["GroupFacts", "PartitionFact", "RoundReport", "evaluate_round"]
