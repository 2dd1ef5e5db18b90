"""The peer of the contracting benchmark: the original's ten `ind_*.py` scripts, as PySpark
DataFrame code the way they were written (contracting-sources.md §2), run locally.

Each function reads the raw-zone Parquet of one cut date and returns the original's one
result row; the benchmark times all ten and checks them against the as-published truth.
`dropDuplicates` keeps whatever row Spark keeps, as in the original.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

PLACEHOLDERS = ["No Definido", "No Adjudicado"]


def indicators(spark: Any, files: Mapping[str, list[Path]]) -> list[dict[str, Any]]:
    """The ten rows, computed one script at a time as the original's EMR steps did."""
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    def read(table: str) -> Any:
        return spark.read.parquet(*[str(p) for p in files[table]])

    p = read("t_seii_procecotrata_compraadjudi")
    total = p.count()

    def row(group: str, name: str, agg: Any, totales: int) -> dict[str, Any]:
        values = agg.collect()[0].asDict()
        return {"nombre_grupo_indicador": group, "nombre_indicador": name, **values,
                "cantidad_contratos_totales": totales}

    def measures(irr: Any, contracts: Any, amount: Any) -> list[Any]:
        return [irr.alias("cantidad_irregularidades"),
                contracts.alias("cantidad_contratos_irregularidades"),
                amount.alias("monto_total_irregularidades")]

    def abuso() -> dict[str, Any]:
        d = p.dropDuplicates(["id_proceso"]).filter(~F.col("id_nit_proveedor").isin(PLACEHOLDERS))
        g = d.groupBy("id_nit_entidad", "id_nit_proveedor", F.year("fecha_publicacion")).agg(
            F.count("*").alias("n"), F.sum("monto_precio_base").alias("m"))
        bad = g.filter(F.col("n") >= 3)
        return row("otros indicadores", "abuso de la contratación",
                   bad.agg(*measures(F.count("*"), F.sum("n"), F.sum("m"))), g.count())

    def ofertas() -> dict[str, Any]:
        o = read("t_seii_ofertaproces_procesocompr").select(
            "id_proceso_compra", "monto_oferta", "fecha_registro_oferta",
            F.col("nombre_proveedor").alias("o_nombre"), F.col("id_nit_proveedor").alias("o_nit"))
        j = p.dropDuplicates(["id_proceso"]).join(o, F.col("id_portafolio")
                                                  == F.col("id_proceso_compra"))
        w = Window.partitionBy("id_proceso_compra").orderBy("monto_oferta",
                                                              "fecha_registro_oferta")
        r = j.withColumn("rk", F.row_number().over(w)).withColumn(
            "diff", F.greatest(F.col("monto_total_adjudicado") - F.col("monto_oferta"), F.lit(0)))
        same = (F.coalesce(F.col("nombre_proveedor") == F.col("o_nombre"), F.lit(False))
                | F.coalesce(F.col("id_nit_proveedor") == F.col("o_nit"), F.lit(False)))
        bad = r.filter((F.col("rk") == 1) & (F.col("diff") > 0) & ~same).withColumn("one",
                                                                                      F.lit(1))
        return row("otros indicadores", "ofertas Costosas",
                   bad.agg(*measures(F.sum("one"), F.sum("one"), F.sum("monto_precio_base"))),
                   j.count())

    def inactivos() -> dict[str, Any]:
        r = read("t_otro_pernajuesadl_camarcomerci").filter(
            F.col("tipo_estado_matricula") == "CANCELADA")
        a = p.join(r, p.id_nit_proveedor == r.id_nit_empresa).select(p.columns)
        b = p.join(r, p.id_nit_proveedor == r.id_empresa).select(p.columns)
        u = a.union(b).dropDuplicates(["id_nit_proveedor"])
        return row("otros indicadores", "contratos con proveedores inactivos",
                   u.agg(*measures(F.count("*"), F.count("id_proceso"),
                                   F.sum("monto_precio_base"))), total)

    def joined(name: str, source: Any, left: str, right: str) -> dict[str, Any]:
        j = source.join(read(right[0]).select(right[1]), F.col(left) == F.col(right[1]))
        return row("otros indicadores", name, j.agg(*measures(
            F.count("*"), F.count("*"), F.sum("monto_precio_base"))), total)

    def by_portfolio(group: str, name: str, matched: Any) -> dict[str, Any]:
        return row(group, name, matched.agg(*measures(
            F.countDistinct("key"), F.countDistinct("id_portafolio"),
            F.sum("monto_precio_base"))), total)

    def cancelados() -> dict[str, Any]:
        c = read("t_seii_contracanela_aislamiencon").groupBy("id_nit_rep_legal").count()
        j = p.dropDuplicates(["id_portafolio"]).join(
            c, F.col("id_nit_proveedor") == F.col("id_nit_rep_legal")).filter(
            ~F.col("id_nit_rep_legal").isin(["No Definido"]))
        return by_portfolio("indicadores incumplimiento", "contratistas con contratos cancelados",
                            j.withColumn("key", F.col("id_nit_proveedor")))

    def entregas() -> dict[str, Any]:
        e = read("t_seii_ejecucioncon_avancerevses")
        e = e.filter(F.col("cant_recibida").isNotNull() & (F.col("cant_recibida") != "No Definido")
                     & (F.col("cant_recibir") != "No Definido"))
        flagged = e.filter(F.col("cant_recibida") < F.col("cant_recibir")).groupBy(
            "id_contrato").count().withColumn("key", F.substring("id_contrato", 12, 8))
        side = p.select(F.substring("id_proceso", 9, 8).alias("key2"), "id_proceso",
                        "id_nit_proveedor", "monto_precio_base", "nombre_contrato").filter(
            ~F.col("id_nit_proveedor").isin(PLACEHOLDERS)).distinct()
        j = flagged.join(side, F.col("key") == F.col("key2"))
        return row("indicadores incumplimiento", "contratos con incumplimiento de entregas",
                   j.agg(*measures(F.sum("count"), F.countDistinct("key2"),
                                   F.sum_distinct("monto_precio_base"))), total)

    def by_name(name: str, table: str, column: str, dedup: bool = True,
                keep: Callable[[Any], Any] = lambda t: t) -> dict[str, Any]:
        names = keep(read(table)).filter(F.col(column).isNotNull()).select(column).distinct()
        base = p.dropDuplicates(["id_portafolio"]) if dedup else p
        j = base.join(names, F.col("nombre_proveedor") == F.col(column))
        return by_portfolio("indicadores por inhabilidad", name,
                            j.withColumn("key", F.col("nombre_proveedor")))

    return [
        abuso(), ofertas(), inactivos(),
        joined("contratos con proveedores PEP", p.dropDuplicates(["id_proceso"]),
               "id_nit_proveedor", ("t_otro_persexpupoli_sigepperexpo", "id_nit_pep")),
        joined("contratos con proveedores con puestos sensibles", p, "id_nit_proveedor",
               ("t_otro_puestsensibl_sigeppsscorr", "id_nit_identificacion")),
        cancelados(), entregas(),
        by_name("inhabilitados por multa", "t_seii_multasysanci_secopiimulsa",
                "nombre_contratista_sancionado"),
        by_name("inhabilitados por obras inconclusas", "t_paco_registro_obras_inconclusa",
                "nombre_rol_1"),
        by_name("inhabilitados por responsabilidad fiscal", "t_paco_responsabilidad_fiscales",
                "nombre_responsable_fiscal", dedup=False,
                keep=lambda t: t.filter(F.col("cant_registros_responsable_fiscal").isNull())),
    ]
