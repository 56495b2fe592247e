-- Typo-tolerant search, the best 20 by word similarity (crm.selectors.best_matches): "Mülller" folds to "muelller".
-- index: prospect_search
-- params: {"pattern": "%muelller%", "word": "muelller"}
SELECT id, last_name, first_name
FROM crm_prospect
WHERE dealer_id = %(dealer_id)s::bigint AND merged_into_id IS NULL AND erased_at IS NULL
  AND (search_text LIKE %(pattern)s OR search_text %%> %(word)s)
ORDER BY word_similarity(%(word)s, search_text) DESC, sort_name, id
LIMIT 20
