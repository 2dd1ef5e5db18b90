"""Transit: ADATRAP Miner on cauce, plus an open engine for stages, trips, OD and profiles."""
