# Build: docker build -t chatops .      Run: docker run --rm -e ConnectionStrings__Target=… chatops list
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/ChatOps.Bot/ChatOps.Bot.csproj -c Release -o /app --nologo

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
# The publish output already holds appsettings.json and sql/ beside the binary (see ChatOps.Bot.csproj).
COPY --from=build /app .
USER $APP_UID
ENTRYPOINT ["dotnet", "chatops.dll"]
CMD ["--help"]
