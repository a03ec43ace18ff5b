-- Every metric with what a dashboard or the report needs to show it: its label, commitment, how
-- to format it, what its numerator and denominator count, whether small cells are hidden, its
-- definition (the report's footnote) and, for an anchor, the goal.
select c.metric_id, c.name as label, c.commitment, k.name as commitment_name, c.unit, c.display,
       c.numerator_label, c.denominator_label, c.counts as denominator_counts,
       c.suppress as small_cells_suppressed, c.main_source, c.description,
       a.metric_id is not null as is_anchor_goal, a.goal as anchor_goal,
       a.baseline_school_year as anchor_baseline_school_year
from {{ ref('metric_catalog') }} c
join {{ ref('commitments') }} k on k.commitment = c.commitment
left join {{ ref('anchor_goal_definitions') }} a on a.metric_id = c.metric_id
