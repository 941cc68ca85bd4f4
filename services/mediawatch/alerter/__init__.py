"""The alerter: watch rules over tagged articles, alerts on ``mediawatch.alerts``, and the
delivery of notifications to webhooks, Slack, e-mail and Alertmanager."""
