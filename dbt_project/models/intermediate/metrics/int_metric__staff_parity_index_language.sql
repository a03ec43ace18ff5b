-- Commitment 5 anchor (language): teachers listing a language other than English over students
-- whose home language is not English.
{{ parity_index('speaks_language_other_than_english') }}
