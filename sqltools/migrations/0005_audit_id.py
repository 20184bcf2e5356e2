from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sqltools', '0004_data_rule_write'),
    ]

    operations = [
        migrations.AddField(
            model_name='auditentry',
            name='audit_id',
            field=models.CharField(blank=True, db_index=True, default='', help_text=(
                "The call's id, also in the tag that starts each of its statements on the target (audit_id='…')."),
                max_length=32),
        ),
    ]
