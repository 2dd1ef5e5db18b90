import time
from cauce import App, daily
app = App("b")
@app.job(partitions=daily(start="2021-01-01"))
def day(ctx):
    time.sleep(1)
