{#- Fails on every row where the expression is not true (false or null): a domain rule per row. -#}
{% test expression_is_true(model, expression) %}
select *
from {{ model }}
where not coalesce({{ expression }}, false)
{% endtest %}
