"""Place names for the synthetic city: the 41 comunas of the real dictionary and street names."""

COMUNAS = (
    "LAMPA", "COLINA", "LO BARNECHEA", "LAS CONDES", "VITACURA", "HUECHURABA", "QUILICURA",
    "PUDAHUEL", "RENCA", "CONCHALI", "RECOLETA", "INDEPENDENCIA", "PROVIDENCIA", "LA REINA",
    "NUNOA", "SANTIAGO", "QUINTA NORMAL", "CERRO NAVIA", "LO PRADO", "ESTACION CENTRAL",
    "MAIPU", "CERRILLOS", "PEDRO AGUIRRE CERDA", "SAN MIGUEL", "SAN JOAQUIN", "MACUL",
    "PENALOLEN", "LA FLORIDA", "LA GRANJA", "SAN RAMON", "LA CISTERNA", "LO ESPEJO",
    "EL BOSQUE", "SAN BERNARDO", "LA PINTANA", "PUENTE ALTO", "PIRQUE", "SAN JOSE DE MAIPO",
    "CALERA DE TANGO", "PADRE HURTADO", "PENAFLOR",
)

STREETS = (
    "Los Aromos", "Las Acacias", "Los Alerces", "Los Boldos", "Los Canelos", "Los Castanos",
    "Los Cerezos", "Los Ciruelos", "Los Coigues", "Los Espinos", "Los Laureles", "Los Lingues",
    "Los Maitenes", "Los Manzanos", "Los Molles", "Los Naranjos", "Los Nogales", "Los Olivos",
    "Los Peumos", "Los Pinos", "Los Quillayes", "Los Robles", "Los Sauces", "Las Palmas",
    "Las Encinas", "Las Magnolias", "Las Violetas", "Las Camelias", "Las Dalias", "Las Hortensias",
    "Andes", "Bio Bio", "Maule", "Itata", "Aconcagua", "Mapocho", "Maipo", "Cachapoal", "Toltén",
    "Valdivia", "Imperial", "Loa", "Elqui", "Limarí", "Choapa", "Petorca", "Rapel", "Mataquito",
    "Gabriela Mistral", "Pablo Neruda", "Vicente Huidobro", "Violeta Parra", "Victor Jara",
    "Manuel Rodriguez", "Jose Miguel Carrera", "Bernardo O'Higgins", "Diego Portales",
    "Andres Bello", "Arturo Prat", "Ignacio Carrera Pinto", "Lautaro", "Caupolican", "Galvarino",
    "Colo Colo", "Tucapel", "Rengo", "Janequeo", "Fresia", "Guacolda", "Michimalongo",
    "Santa Rosa", "San Pablo", "San Diego", "Santa Isabel", "San Francisco", "Santo Domingo",
    "La Capilla", "El Molino", "El Parron", "La Estrella", "El Salto", "La Aguada",
)
