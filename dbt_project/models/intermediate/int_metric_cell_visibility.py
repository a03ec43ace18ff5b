"""What each cell may show: small cells and their complements over every published sum hidden,
rates of none or all of a group range-coded. bps_pipeline/privacy/suppression.py holds the rule,
the vars and seeds here its settings. A Python model: the complements are chosen with an
attacker's linear program, which SQL cannot run. The counts stay exact: int_metric_cells_suppressed
takes them from int_metric_cells and only this model's decisions from here."""

def model(dbt, session):
    from bps_pipeline.privacy.audit import CELL
    from bps_pipeline.privacy.suppression import suppress

    dbt.config(materialized="table")
    decided = suppress(dbt.ref("int_metric_cells").df(), dbt.ref("metric_catalog").df(), dbt.ref("value_coding").df(),
                       min_cell_size=int(dbt.config.get("min_cell_size")),
                       protection_level=float(dbt.config.get("protection_level")))
    return decided[[*CELL, "suppressed", "numerator_hidden", "coded_label"]]
