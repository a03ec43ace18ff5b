-- Commitment 5 anchor: teachers of color share over students of color share.
{{ parity_index('is_of_color') }}
